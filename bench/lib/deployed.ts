/** The worker's node flags in the Kubernetes deployment (NODE_OPTIONS in deploy/k8s/base/worker/deployment.yaml); a unit test keeps the two equal. */
export const DEPLOYED_WORKER_NODE_ARGS = "--max-old-space-size=96";
