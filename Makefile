# Conveniences over scripts/; the scripts are the reference (and need only bash).
PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
export PG_CONFIG

.PHONY: demo test install package
demo:      ## build, install, start a throwaway cluster and walk through an execution
	./scripts/demo.sh
test:      ## the whole test suite (what CI runs)
	./scripts/test.sh
install:   ## build in release mode and install into the server of $(PG_CONFIG)
	./scripts/install.sh
package:   ## Debian packages, one per major: target/debian/postgresql-NN-noetl-vars_<version>_amd64.deb
	./scripts/package.sh
