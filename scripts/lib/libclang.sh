# shellcheck shell=bash
# ensure_libclang: makes sure Debian's libclang-dev is installed. bindgen needs libclang to build
# librocksdb-sys, which solana-test-validator pulls into rewards/validator-tests (the end-to-end
# test of the production RPC minting path).

ensure_libclang() {
  if dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q 'install ok installed'; then
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "libclang-dev is missing and this is not root: run 'apt-get install -y libclang-dev' first" >&2
    return 1
  fi
  echo "libclang-dev not found: installing it from Debian packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev >/dev/null
}
