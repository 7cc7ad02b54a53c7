# A stand-in for a secret manager's CLI (vault kv get -field=password secret/ci/db): prints the
# value of the secret named by $1 on standard output. A real one reads it from the manager.
case "$1" in
  db-password) printf 'example-db-%s\n' "$(id -u)-s3cr3t" ;;
  *) echo "no secret $1" >&2; exit 2 ;;
esac
