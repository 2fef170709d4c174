#!/bin/sh
# Prints "$GREETING, NAME!" (GREETING defaults to hello).
echo "${GREETING:-hello}, ${1:-nobody}!"
