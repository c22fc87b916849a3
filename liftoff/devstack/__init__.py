"""The embedded, no-Docker stack behind `make demo`, `make test` and `make up`."""
