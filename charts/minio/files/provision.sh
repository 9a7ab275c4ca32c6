#!/bin/sh
# Provisions the object store with the root user, the only place that user is needed: the
# buckets, then one least-privilege identity per bucket, each a user with a policy confined to it.
#   lake    read and write the data lake (the pipeline steps; in compose the Airflow scheduler,
#           which runs them, and the seed job): list it, get and put objects, abort its own multipart uploads
#           (the product never deletes lake objects)
#   mlflow  read, write and delete MLflow's artifacts (the tracking server, which proxies them)
# Idempotent, so it runs at every install, upgrade and `docker compose up`: buckets are kept,
# policies replaced, a user's secret set again, an existing attachment accepted.
# The minio chart's bucket Job and compose's minio-provision service both run this file.
# Environment: MINIO_ENDPOINT, MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, BUCKETS (space-separated),
# LAKE_BUCKET, LAKE_ACCESS_KEY, LAKE_SECRET_KEY, MLFLOW_BUCKET, MLFLOW_ACCESS_KEY, MLFLOW_SECRET_KEY.
set -eu
policy_dir=${TMPDIR:-/tmp}  # a writable scratch directory (the root file system is read-only)

mc alias set root "$MINIO_ENDPOINT" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
for bucket in $BUCKETS; do
  mc mb --ignore-existing "root/$bucket"
done

# policy NAME BUCKET OBJECT_ACTIONS: list BUCKET, and OBJECT_ACTIONS (a JSON list's items) on its objects.
policy() {
  printf '{"Version":"2012-10-17","Statement":[%s,%s]}\n' \
    "{\"Effect\":\"Allow\",\"Action\":[\"s3:ListBucket\",\"s3:GetBucketLocation\"],\"Resource\":[\"arn:aws:s3:::$2\"]}" \
    "{\"Effect\":\"Allow\",\"Action\":[$3],\"Resource\":[\"arn:aws:s3:::$2/*\"]}" \
    > "$policy_dir/$1.json"
  mc admin policy create root "$1" "$policy_dir/$1.json"
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

policy occupancy-lake "$LAKE_BUCKET" '"s3:GetObject","s3:PutObject","s3:AbortMultipartUpload"'
identity occupancy-lake "$LAKE_ACCESS_KEY" "$LAKE_SECRET_KEY"
policy occupancy-mlflow "$MLFLOW_BUCKET" '"s3:GetObject","s3:PutObject","s3:DeleteObject","s3:AbortMultipartUpload"'
identity occupancy-mlflow "$MLFLOW_ACCESS_KEY" "$MLFLOW_SECRET_KEY"
