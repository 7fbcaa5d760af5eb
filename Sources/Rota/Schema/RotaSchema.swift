/// The `rota` schema this release installs, compiled into the library: a service that links
/// Rota migrates its database from its own binary, and no file on disk is ever executed.
///
/// `sql/` stays the source for psql users; ``installScript`` is generated from it by
/// `scripts/embed-sql.py`, and a test fails while the two differ.
public enum RotaSchema {}
