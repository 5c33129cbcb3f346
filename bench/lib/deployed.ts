/**
 * The worker's node flags in the Kubernetes deployment (the container's `command` in
 * deploy/k8s/base/worker/deployment.yaml; a unit test keeps the two equal).
 */
export const DEPLOYED_WORKER_NODE_ARGS = "--max-old-space-size=96 --heap-growing-percent=300";

/**
 * The scraper's node flags, malloc setting and confirm window in the CronJob
 * (deploy/k8s/base/scraper/cronjob.yaml; a unit test keeps them equal): they keep a
 * 50,000-match scrape under 100 MB resident (docs/performance.md, "What bounds each figure").
 */
export const DEPLOYED_SCRAPER_NODE_ARGS = "--max-semi-space-size=2 --max-old-space-size=64";
export const DEPLOYED_SCRAPER_MALLOC_ARENA_MAX = "1";
export const DEPLOYED_SCRAPER_CONFIRM_WINDOW = "250";
