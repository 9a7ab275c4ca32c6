#!/bin/sh
# Provisions the object store with the root user, the only place that user is needed: the
# buckets, then one least-privilege identity per job, each a user with a policy naming its buckets.
#   lake         read and write the data lake (the pipeline steps; in compose the Airflow
#                scheduler, which runs them, and the seed job): list it, get and put objects,
#                abort its own multipart uploads (the product never deletes lake objects); and
#                list and read the prediction log (the monitoring steps)
#   mlflow       read, write and delete MLflow's artifacts (the tracking server, which proxies them)
#   predictions  put objects into the prediction log's bucket and nothing else (the API): it
#                cannot list or read back what it wrote, nor reach any other bucket
# Idempotent, so it runs at every install, upgrade and `docker compose up`: buckets are kept,
# policies replaced, a user's secret set again, an existing attachment accepted.
# The minio chart's bucket Job and compose's minio-provision service both run this file.
# Environment: MINIO_ENDPOINT, MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, BUCKETS (space-separated),
# and <IDENTITY>_BUCKET, <IDENTITY>_ACCESS_KEY, <IDENTITY>_SECRET_KEY for LAKE, MLFLOW, PREDICTIONS.
set -eu
policy_dir=${TMPDIR:-/tmp}  # a writable scratch directory (the root file system is read-only)

mc alias set root "$MINIO_ENDPOINT" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
for bucket in $BUCKETS; do
  mc mb --ignore-existing "root/$bucket"
done

# listing BUCKET / objects BUCKET ACTIONS: one policy statement, listing BUCKET or allowing
# ACTIONS (a JSON list's items) on its objects.
listing() {
  printf '{"Effect":"Allow","Action":["s3:ListBucket","s3:GetBucketLocation"],"Resource":["arn:aws:s3:::%s"]}' "$1"
}
objects() {
  printf '{"Effect":"Allow","Action":[%s],"Resource":["arn:aws:s3:::%s/*"]}' "$2" "$1"
}

# policy NAME STATEMENT...: the policy NAME made of these statements, created or replaced.
policy() {
  name=$1
  shift
  printf '{"Version":"2012-10-17","Statement":[%s]}\n' "$(IFS=,; echo "$*")" > "$policy_dir/$name.json"
  mc admin policy create root "$name" "$policy_dir/$name.json"
}

# identity POLICY ACCESS_KEY SECRET_KEY: the user, with POLICY attached (once: mc refuses a repeat).
identity() {
  mc admin user add root "$2" "$3"
  if output=$(mc admin policy attach root "$1" --user "$2" 2>&1); then
    echo "$output"
  else
    case "$output" in
      *"already in effect"*) echo "Policy $1 already attached to $2." ;;
      *) echo "$output" >&2; exit 1 ;;
    esac
  fi
}

policy occupancy-lake \
  "$(listing "$LAKE_BUCKET")" \
  "$(objects "$LAKE_BUCKET" '"s3:GetObject","s3:PutObject","s3:AbortMultipartUpload"')" \
  "$(listing "$PREDICTIONS_BUCKET")" \
  "$(objects "$PREDICTIONS_BUCKET" '"s3:GetObject"')"
identity occupancy-lake "$LAKE_ACCESS_KEY" "$LAKE_SECRET_KEY"
policy occupancy-mlflow \
  "$(listing "$MLFLOW_BUCKET")" \
  "$(objects "$MLFLOW_BUCKET" '"s3:GetObject","s3:PutObject","s3:DeleteObject","s3:AbortMultipartUpload"')"
identity occupancy-mlflow "$MLFLOW_ACCESS_KEY" "$MLFLOW_SECRET_KEY"
policy occupancy-predictions \
  "$(objects "$PREDICTIONS_BUCKET" '"s3:PutObject","s3:AbortMultipartUpload"')"
identity occupancy-predictions "$PREDICTIONS_ACCESS_KEY" "$PREDICTIONS_SECRET_KEY"
