import { defineConfig } from "vitest/config";

// Four projects:
// - unit: pure logic, no services, no child processes, fast (its globalSetup only renders the
//   deploy/ overlays with kubectl, and a few deploy tests run promtool);
// - cli: the CLI (or node) as a child process, no services: exit codes, messages, output streams;
// - integration: real RabbitMQ / PostgreSQL / Celery, each file isolated (own vhost, own database);
// - serial: tests that stop or restart a whole service; run alone, after the others (see `npm test`).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // renders the kustomize overlays once for test/unit/deploy-*.test.ts
          globalSetup: ["test/helpers/k8s-render-setup.ts"],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: "cli",
          include: ["test/cli/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/helpers/global-setup.ts"],
          // kills what a failed test left running (worker, schedule, Celery worker processes)
          setupFiles: ["test/helpers/kill-spawned.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "serial",
          include: ["test/serial/**/*.test.ts"],
          globalSetup: ["test/helpers/global-setup.ts"],
          setupFiles: ["test/helpers/kill-spawned.ts"],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
