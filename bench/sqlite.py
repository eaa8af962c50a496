# ruff: noqa: E501  (the SQL workloads below read best one statement per line)
"""A second real code base for the benchmarks: SQLite's amalgamation, from sqlean.py's sdist.

``sqlite_project(cache)`` downloads ``sqlean.py`` (a pinned version) with pip's ordinary client
(``pip download --no-binary :all: --no-deps``), takes SQLite's amalgamation from its ``sqlite/``
folder (``sqlite3.c``, about 260k lines, and ``sqlite3.h``; the few lines sqlean appends after
the amalgamation's end marker to register its own extensions are dropped), and writes a
firmware-style project around it: a Makefile that compiles ``sqlite3.c`` once into
``libsqlite.a`` (with FTS5, R*Tree, the math functions and dbstat, as SQLite's own test build
enables them); unit tests for covguard's harness that run SQL workloads through the C API
(``sqlite3_exec`` on an in-memory database, the last row's first column compared with the
expected text), each verifying a requirement of a small ``requirements.csv``; and
``covguard.toml``.  SQLite carries no ``@req`` tags, so the analysis reports its functions as
untraced: it still classifies every function and line.

This is the size the per-build and per-run targets of ``bench/README.md`` are stated at (about
90k executable lines and 5k functions).  Cached under ``bench/.cache``; without network access
the function returns ``None``.
"""

from __future__ import annotations

import csv
import io
import tarfile
from pathlib import Path

from bench.generate import library_config, library_makefile
from bench.real import RealProject, _c_string, download_sdist, write_project

SQLEAN = "sqlean.py==3.50.4.5"
WANTED = ("sqlite3.c", "sqlite3.h")
END_MARKER = b"/************************** End of sqlite3.c ******************************/\n"

# (test name, requirement, SQL script, expected text of the last row's first column)
TESTS: dict[str, list[tuple[str, str, str, str]]] = {
    "core": [
        (
            "create_insert_select",
            "SQL-REQ-001",
            "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT); INSERT INTO t(b) VALUES ('x'),('y'),('z'); SELECT group_concat(b, '') FROM t ORDER BY a;",
            "xyz",
        ),
        (
            "update_and_delete",
            "SQL-REQ-001",
            "CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 10), (2, 20), (3, 30); UPDATE t SET b = b + 1 WHERE a > 1; DELETE FROM t WHERE a = 1; SELECT sum(b) FROM t;",
            "52",
        ),
        (
            "unique_constraint_and_upsert",
            "SQL-REQ-002",
            "CREATE TABLE t(k TEXT UNIQUE, n INT); INSERT INTO t VALUES ('a', 1); INSERT INTO t VALUES ('a', 5) ON CONFLICT(k) DO UPDATE SET n = n + excluded.n; SELECT n FROM t;",
            "6",
        ),
        (
            "foreign_keys_cascade",
            "SQL-REQ-002",
            "PRAGMA foreign_keys = ON; CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(pid REFERENCES p(id) ON DELETE CASCADE); INSERT INTO p VALUES (1), (2); INSERT INTO c VALUES (1), (1), (2); DELETE FROM p WHERE id = 1; SELECT count(*) FROM c;",
            "1",
        ),
        (
            "transactions_and_savepoints",
            "SQL-REQ-003",
            "CREATE TABLE t(a); BEGIN; INSERT INTO t VALUES (1); SAVEPOINT s; INSERT INTO t VALUES (2); ROLLBACK TO s; RELEASE s; COMMIT; SELECT count(*) FROM t;",
            "1",
        ),
        (
            "triggers_keep_an_audit",
            "SQL-REQ-003",
            "CREATE TABLE t(a); CREATE TABLE log(x); CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.a * 2); END; INSERT INTO t VALUES (4), (5); SELECT sum(x) FROM log;",
            "18",
        ),
        (
            "views_and_subqueries",
            "SQL-REQ-004",
            "CREATE TABLE t(a); INSERT INTO t VALUES (1), (2), (3), (4); CREATE VIEW v AS SELECT a FROM t WHERE a % 2 = 0; SELECT (SELECT sum(a) FROM v) + (SELECT max(a) FROM t WHERE a NOT IN (SELECT a FROM v));",
            "9",
        ),
        (
            "alter_table_add_and_rename",
            "SQL-REQ-004",
            "CREATE TABLE t(a); INSERT INTO t VALUES (1); ALTER TABLE t ADD COLUMN b DEFAULT 7; ALTER TABLE t RENAME COLUMN a TO c; ALTER TABLE t RENAME TO u; SELECT c + b FROM u;",
            "8",
        ),
    ],
    "query": [
        (
            "index_range_scan",
            "SQL-REQ-010",
            "CREATE TABLE t(a, b); CREATE INDEX ta ON t(a); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t SELECT i, i * 3 FROM n; SELECT sum(b) FROM t WHERE a BETWEEN 100 AND 199;",
            "44850",
        ),
        (
            "joins_inner_left_and_full",
            "SQL-REQ-010",
            "CREATE TABLE a(x); CREATE TABLE b(y); INSERT INTO a VALUES (1), (2), (3); INSERT INTO b VALUES (2), (3), (4); SELECT (SELECT count(*) FROM a JOIN b ON x = y) || ',' || (SELECT count(*) FROM a LEFT JOIN b ON x = y) || ',' || (SELECT count(*) FROM a FULL JOIN b ON x = y);",
            "2,3,4",
        ),
        (
            "group_by_having_order",
            "SQL-REQ-011",
            "CREATE TABLE t(g, v); INSERT INTO t VALUES ('a', 1), ('a', 2), ('b', 5), ('c', 1), ('c', 1); SELECT group_concat(g, '') FROM (SELECT g FROM t GROUP BY g HAVING sum(v) >= 3 ORDER BY sum(v) DESC);",
            "ba",
        ),
        (
            "window_functions",
            "SQL-REQ-011",
            "CREATE TABLE t(v); INSERT INTO t VALUES (3), (1), (4), (1), (5); SELECT group_concat(r, ' ') FROM (SELECT sum(v) OVER (ORDER BY rowid ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS r FROM t);",
            "3 4 5 5 6",
        ),
        (
            "recursive_cte",
            "SQL-REQ-012",
            "WITH RECURSIVE fib(a, b, n) AS (SELECT 0, 1, 0 UNION ALL SELECT b, a + b, n + 1 FROM fib WHERE n < 30) SELECT a FROM fib WHERE n = 30;",
            "832040",
        ),
        (
            "compound_selects",
            "SQL-REQ-012",
            "SELECT count(*) FROM (SELECT 1 UNION SELECT 1 UNION ALL SELECT 2 INTERSECT SELECT 2 EXCEPT SELECT 3);",
            "1",
        ),
        (
            "sort_large_table",
            "SQL-REQ-010",
            "CREATE TABLE t(a); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) INSERT INTO t SELECT (i * 7919) % 5003 FROM n; SELECT group_concat(a, ',') FROM (SELECT a FROM t ORDER BY a DESC LIMIT 3);",
            "5002,5001,5000",
        ),
        (
            "analyze_gathers_statistics",
            "SQL-REQ-013",
            "CREATE TABLE t(a, b); CREATE INDEX tb ON t(b); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) INSERT INTO t SELECT i, i % 10 FROM n; ANALYZE; SELECT stat FROM sqlite_stat1 WHERE idx = 'tb';",
            "100 10",
        ),
    ],
    "functions": [
        (
            "string_functions",
            "SQL-REQ-020",
            "SELECT upper('abc') || lower('DEF') || substr('hello', 2, 3) || replace('aXa', 'X', '-') || length('four') || trim('  t  ') || instr('banana', 'nan') || printf('%05.1f', 3.14159);",
            "ABCdefella-a4t3003.1",
        ),
        (
            "like_glob_and_collation",
            "SQL-REQ-020",
            "SELECT ('Hello' LIKE 'h%') || ('Hello' GLOB 'h*') || ('a' = 'A' COLLATE NOCASE);",
            "101",
        ),
        (
            "math_functions",
            "SQL-REQ-021",
            "SELECT round(sqrt(2) * 1000) || ',' || abs(-7) || ',' || (5 / 2) || ',' || (5 / 2.0) || ',' || floor(-3.5) || ',' || pow(2, 10) || ',' || (9 % 4);",
            "1414.0,7,2,2.5,-4.0,1024.0,1",
        ),
        (
            "date_and_time",
            "SQL-REQ-022",
            "SELECT date('2026-02-28', '+1 day') || ' ' || strftime('%j', '2026-12-31') || ' ' || julianday('2000-01-01 12:00:00');",
            "2026-03-01 365 2451545.0",
        ),
        (
            "json_functions",
            "SQL-REQ-023",
            "SELECT json_extract('{\"a\": [1, 2, {\"b\": \"x\"}]}', '$.a[2].b') || json_array_length('[1, 2, 3]') || (SELECT sum(value) FROM json_each('[4, 5, 6]')) || json_object('k', 1);",
            'x315{"k":1}',
        ),
        (
            "blobs_and_hex",
            "SQL-REQ-024",
            "SELECT hex(x'00ff') || hex(zeroblob(2)) || length(randomblob(16)) || quote(x'41') || typeof(CAST('12' AS INTEGER));",
            "00FF000016X'41'integer",
        ),
        (
            "aggregate_functions",
            "SQL-REQ-021",
            "CREATE TABLE t(v); INSERT INTO t VALUES (2), (4), (NULL), (6); SELECT count(*) || count(v) || avg(v) || min(v) || max(v) || total(v) FROM t;",
            "434.02612.0",
        ),
    ],
    "extensions": [
        (
            "fts5_full_text_search",
            "SQL-REQ-030",
            "CREATE VIRTUAL TABLE d USING fts5(body); INSERT INTO d VALUES ('the quick brown fox'), ('a lazy dog'), ('quick thinking'); SELECT count(*) FROM d WHERE d MATCH 'quick';",
            "2",
        ),
        (
            "rtree_spatial_index",
            "SQL-REQ-031",
            "CREATE VIRTUAL TABLE r USING rtree(id, x0, x1, y0, y1); INSERT INTO r VALUES (1, 0, 10, 0, 10), (2, 5, 15, 5, 15), (3, 20, 30, 20, 30); SELECT count(*) FROM r WHERE x1 >= 8 AND x0 <= 12 AND y1 >= 8 AND y0 <= 12;",
            "2",
        ),
        (
            "vacuum_and_integrity_check",
            "SQL-REQ-032",
            "CREATE TABLE t(a); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO t SELECT randomblob(100) FROM n; DELETE FROM t WHERE rowid % 2 = 0; VACUUM; PRAGMA integrity_check;",
            "ok",
        ),
        (
            "pragma_schema_introspection",
            "SQL-REQ-032",
            "CREATE TABLE t(a INTEGER NOT NULL, b TEXT DEFAULT 'x'); SELECT group_concat(name || ':' || type || ':' || \"notnull\", ' ') FROM pragma_table_info('t');",
            "a:INTEGER:1 b:TEXT:0",
        ),
        (
            "dbstat_virtual_table",
            "SQL-REQ-031",
            "CREATE TABLE t(a); INSERT INTO t VALUES (1); SELECT count(*) > 0 FROM dbstat;",
            "1",
        ),
    ],
}

REQUIREMENTS = {
    "SQL-REQ-001": "Tables: create, insert, update, delete, select",
    "SQL-REQ-002": "Constraints, upsert and foreign keys",
    "SQL-REQ-003": "Transactions, savepoints and triggers",
    "SQL-REQ-004": "Views, subqueries and schema changes",
    "SQL-REQ-010": "Indexes, joins and sorting",
    "SQL-REQ-011": "Grouping and window functions",
    "SQL-REQ-012": "Recursive and compound queries",
    "SQL-REQ-013": "Query planning",
    "SQL-REQ-020": "String functions and collation",
    "SQL-REQ-021": "Numeric and aggregate functions",
    "SQL-REQ-022": "Date and time functions",
    "SQL-REQ-023": "JSON functions",
    "SQL-REQ-024": "Blobs",
    "SQL-REQ-030": "Full-text search",
    "SQL-REQ-031": "Virtual tables: R*Tree and dbstat",
    "SQL-REQ-032": "Maintenance: VACUUM, integrity check, pragmas",
}

# the optional parts SQLite's own test build (testfixture) compiles in
CFLAGS = (
    "-std=gnu99 -O0 -g -w -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_ENABLE_FTS3 "
    "-DSQLITE_ENABLE_FTS3_PARENTHESIS -DSQLITE_ENABLE_FTS4 -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE "
    "-DSQLITE_ENABLE_GEOPOLY -DSQLITE_ENABLE_MATH_FUNCTIONS -DSQLITE_ENABLE_DBSTAT_VTAB "
    "-DSQLITE_ENABLE_DBPAGE_VTAB -DSQLITE_ENABLE_BYTECODE_VTAB -DSQLITE_ENABLE_STMTVTAB "
    "-DSQLITE_ENABLE_SESSION -DSQLITE_ENABLE_PREUPDATE_HOOK -DSQLITE_ENABLE_STAT4 "
    "-DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_UNLOCK_NOTIFY -DSQLITE_ENABLE_EXPLAIN_COMMENTS "
    "-DSQLITE_ENABLE_API_ARMOR -DSQLITE_ENABLE_UPDATE_DELETE_LIMIT -DSQLITE_ENABLE_NORMALIZE"
)

MAKEFILE = library_makefile(
    "# SQLite's amalgamation (from sqlean.py's sdist) as a firmware-style project: sqlite3.c compiled\n"
    "# once into libsqlite.a, one test executable per tests/test_*.c linked against it.",
    CFLAGS,
    "libsqlite.a",
    "-lm",
)

CONFIG = library_config("SQLite under covguard (bench/sqlite.py)", 300)


def _test_file(group: str, cases: list[tuple[str, str, str, str]]) -> str:
    out = [
        f"/* test_sql_{group}.c - SQL workloads through SQLite's C API, one covguard test each */",
        "#include <string.h>",
        '#include "covguard_test.h"',
        '#include "sqlite3.h"',
        "",
        "static char last[256];",
        "",
        "static int keep_last(void *unused, int n, char **values, char **names)",
        "{",
        "    (void)unused;",
        "    (void)names;",
        "    last[0] = 0;",
        "    if (n > 0 && values[0] != 0) {",
        "        strncpy(last, values[0], sizeof last - 1);",
        "        last[sizeof last - 1] = 0;",
        "    }",
        "    return 0;",
        "}",
        "",
        "/* run the script on a fresh in-memory database; 1 when the last row's first column is expected */",
        "static int sql_gives(const char *sql, const char *expected)",
        "{",
        "    sqlite3 *db = 0;",
        "    int ok;",
        '    strcpy(last, "<no row>");',
        '    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 0;',
        "    ok = sqlite3_exec(db, sql, keep_last, 0, 0) == SQLITE_OK && strcmp(last, expected) == 0;",
        "    sqlite3_close(db);",
        "    return ok;",
        "}",
        "",
    ]
    for name, req, sql, expected in cases:
        out += [
            f'CG_TEST({name}, "{req}")',
            "{",
            f"    CG_ASSERT(sql_gives({_c_string(sql)}, {_c_string(expected)}));",
            "}",
            "",
        ]
    out += ["CG_MAIN()", ""]
    return "\n".join(out)


def sqlite_project(cache: Path) -> RealProject | None:
    """The SQLite project under ``cache/sqlite`` (written once), or None without the download."""
    root = cache / "sqlite"
    src = root / "src"
    if not (src / "sqlite3.c").is_file():
        archive = download_sdist(cache, SQLEAN, "sqlean_py-*.tar.gz")
        if archive is None:
            return None
        src.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if len(parts) == 3 and parts[1] == "sqlite" and parts[2] in WANTED and member.isfile():
                    handle = tar.extractfile(member)
                    assert handle is not None
                    data = handle.read()
                    if parts[2] == "sqlite3.c":
                        cut = data.find(END_MARKER)
                        if cut < 0:
                            print("  sqlean's sqlite3.c has no amalgamation end marker: skipped")
                            return None
                        data = data[: cut + len(END_MARKER)]
                    (src / parts[2]).write_bytes(data)
    table = io.StringIO()  # quoted: the titles hold commas
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["id", "title", "safety_class", "rationale"])
    writer.writerows(
        [rid, title, "B", "SQLite behaviour the benchmark workload checks."]
        for rid, title in REQUIREMENTS.items()
    )
    files = {f"tests/test_sql_{group}.c": _test_file(group, cases) for group, cases in TESTS.items()}
    files |= {"requirements.csv": table.getvalue(), "Makefile": MAKEFILE, "covguard.toml": CONFIG}
    write_project(root, files)
    lines = sum(p.read_bytes().count(b"\n") for p in src.glob("*.[ch]"))
    return RealProject(
        name="SQLite 3.50 (sqlean sdist)",
        root=root,
        functions=0,
        source_lines=lines,
        tests=sum(len(c) for c in TESTS.values()),
    )


if __name__ == "__main__":
    print(sqlite_project(Path(__file__).resolve().parent / ".cache"))
