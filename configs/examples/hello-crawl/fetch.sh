#!/bin/sh
# Pretends to fetch a site's index and tells downstream jobs how many pages it found.
echo "fetching https://$1/ ..."
echo '{"pages": "3"}' > "$JOB_OUTPUT_PROP_FILE"
echo "found 3 pages"
