/**
 * The rabbitmq-tls component as rendered in overlays/prod-tls: the broker's TLS settings, the
 * certificate where those settings look for it, only TLS ports open to the clients, and the
 * worker and the scraper trusting the CA (never holding the key). The settings themselves run on
 * a real node in test/integration/deploy-rabbitmq-tls.test.ts.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { K8sObject } from "../../scripts/validate-deploy.js";
import { find, findGenerated, podTemplate, secretData, useRenderedOverlays, type NetworkPolicyRule } from "../helpers/k8s-render.js";

useRenderedOverlays();

const TLS_CONF = readFileSync(new URL("../../deploy/k8s/components/rabbitmq-tls/rabbitmq-tls.conf", import.meta.url), "utf8");

interface Mount { name: string; mountPath: string; subPath?: string; readOnly?: boolean }
interface Volume { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] }; configMap?: { name: string } }
type Pod = { containers: { name: string; ports?: { name: string; containerPort: number }[]; volumeMounts?: Mount[]; env?: { name: string; value?: string }[] }[]; volumes?: Volume[] };

const pod = (obj: K8sObject) => podTemplate(obj).spec as unknown as Pod;
const servicePorts = (name: string) => (find("prod-tls", "Service", name).spec as { ports: { port: number }[] }).ports.map((p) => p.port);

describe("overlay prod-tls (components/rabbitmq-tls)", () => {
  it("gives the broker its TLS settings as a conf.d file read after the base's", () => {
    expect(findGenerated("prod-tls", "ConfigMap", "rabbitmq-config").data).toMatchObject({ "rabbitmq-tls.conf": TLS_CONF });
    const broker = pod(find("prod-tls", "StatefulSet", "rabbitmq")).containers.find((c) => c.name === "rabbitmq");
    const mounts = broker?.volumeMounts ?? [];
    expect(mounts).toContainEqual(expect.objectContaining({ mountPath: "/etc/rabbitmq/conf.d/91-matchflow-tls.conf", subPath: "rabbitmq-tls.conf" }));
    expect(mounts).toContainEqual(expect.objectContaining({ mountPath: "/etc/rabbitmq/conf.d/90-matchflow.conf" }));
    expect(broker?.ports?.map((p) => p.containerPort).sort()).toEqual([15671, 15672, 15692, 5671].sort());
  });

  it("mounts the Secret rabbitmq-tls where the settings look for tls.crt, tls.key and ca.crt", () => {
    const spec = pod(find("prod-tls", "StatefulSet", "rabbitmq"));
    const mount = spec.containers.find((c) => c.name === "rabbitmq")?.volumeMounts?.find((m) => m.name === "tls");
    expect(spec.volumes?.find((v) => v.name === "tls")?.secret?.secretName).toBe("rabbitmq-tls");
    const files = [...TLS_CONF.matchAll(/^[a-z_.]+file = (\S+)$/gm)].map((m) => m[1]);
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) expect(file).toMatch(new RegExp(`^${mount?.mountPath}/(tls\\.crt|tls\\.key|ca\\.crt)$`));
  });

  it("opens only the TLS ports to the clients: Services and NetworkPolicy", () => {
    expect(servicePorts("rabbitmq").sort()).toEqual([15671, 15692, 5671].sort());
    expect(servicePorts("rabbitmq-headless")).toEqual([5671]);
    const ingress = (find("prod-tls", "NetworkPolicy", "rabbitmq-clients").spec as { ingress: NetworkPolicyRule[] }).ingress;
    expect(ingress.flatMap((r) => r.ports?.map((p) => p.port) ?? []).sort()).toEqual([15671, 5671].sort());
    // prod, without the component, is unchanged.
    expect((find("prod", "Service", "rabbitmq").spec as { ports: { port: number }[] }).ports.map((p) => p.port)).toContain(5672);
  });

  it("the worker and the scraper trust the broker's CA through NODE_EXTRA_CA_CERTS, with ca.crt alone mounted", () => {
    for (const [kind, name, container] of [["Deployment", "matchflow-worker", "worker"], ["CronJob", "matchflow-scraper", "scraper"]] as const) {
      const spec = pod(find("prod-tls", kind, name));
      const c = spec.containers.find((x) => x.name === container);
      const caPath = c?.env?.find((e) => e.name === "NODE_EXTRA_CA_CERTS")?.value ?? "";
      const mount = c?.volumeMounts?.find((m) => caPath.startsWith(`${m.mountPath}/`));
      const volume = spec.volumes?.find((v) => v.name === mount?.name);
      expect(volume?.secret, `${name}`).toEqual({ secretName: "rabbitmq-tls", items: [{ key: "ca.crt", path: caPath.slice((mount?.mountPath.length ?? 0) + 1) }] });
      expect(mount?.readOnly).toBe(true);
    }
  });

  it("the clients' URLs are amqps:// and https:// on the TLS ports", () => {
    const secrets = secretData("prod-tls", "matchflow-secrets");
    expect(secrets.RABBITMQ_URL).toMatch(/^amqps:\/\/[^@]+@rabbitmq\.matchflow\.svc:5671\//);
    expect(secrets.RABBITMQ_MANAGEMENT_URL).toMatch(/^https:\/\/[^@]+@rabbitmq\.matchflow\.svc:15671$/);
    expect(secrets.DATABASE_URL).toBe(secretData("prod", "matchflow-secrets").DATABASE_URL);
  });
});
