/** matchflow's version, as `--version` prints it and Celery worker events report it (kept equal to package.json's by a unit test). */
export const MATCHFLOW_VERSION = "0.1.0";
