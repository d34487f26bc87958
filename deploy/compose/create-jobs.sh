#!/bin/sh
# Create each job defined in DIR (one file per job, <name>.yaml) unless it exists, then start
# it. Safe to run again: an existing job is left as it is (use `jobqueue job update` to change
# it). Talks to $JOBQUEUE_CONTROLLER with $JOBQUEUE_CONTROLLER_TOKEN, like every `jobqueue job`.
set -eu
dir="${1:?usage: create-jobs.sh DIR}"
for file in "$dir"/*.yaml; do
    name=$(basename "$file" .yaml)
    if jobqueue job get "$name" >/dev/null 2>&1; then
        echo "job $name already exists"
    else
        jobqueue job create --file "$file"
    fi
    jobqueue job start "$name"
done
