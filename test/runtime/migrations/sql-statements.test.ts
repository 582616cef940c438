// How a -- sluice:no-transaction script is cut into the statements sent one by one: a `;` inside a
// string, a quoted name, a dollar-quoted body or a comment does not end a statement.
import { describe, expect, it } from 'vitest';
import { splitSqlStatements } from '../../../lib/runtime/migrations/sql-statements.ts';

describe('splitSqlStatements', () => {
  it('splits on the semicolons that end statements, with the line each starts on', () => {
    const sql = "-- sluice:no-transaction\nCREATE INDEX CONCURRENTLY a_x ON a (x);\n\nCREATE INDEX CONCURRENTLY b_y\n  ON b (y);\n-- trailing comment\n";
    expect(splitSqlStatements(sql)).toEqual([
      { text: '-- sluice:no-transaction\nCREATE INDEX CONCURRENTLY a_x ON a (x)', line: 1 },
      { text: 'CREATE INDEX CONCURRENTLY b_y\n  ON b (y)', line: 4 },
    ]);
  });

  it('keeps semicolons inside strings, quoted names, dollar quotes and comments', () => {
    const sql = [
      "INSERT INTO t VALUES ('a;b', 'it''s; fine', E'back\\'; slash;');",
      'CREATE TABLE "odd;name" (id integer);',
      'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END; $body$;',
      'DO $$ BEGIN PERFORM 1; END $$;',
      '/* a; /* nested; */ still; */ SELECT 1;',
      'SELECT $1::text; -- not a dollar quote; ok',
    ].join('\n');
    expect(splitSqlStatements(sql).map((statement) => statement.line)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(splitSqlStatements(sql)[2]!.text).toBe('CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END; $body$');
  });

  it('returns nothing for a script of comments only', () => {
    expect(splitSqlStatements('-- nothing here;\n/* nor; here */\n')).toEqual([]);
  });
});
