// Splits a script into its statements, for scripts that run outside a transaction: PostgreSQL runs
// several statements sent in one query as one implicit transaction, which CREATE INDEX CONCURRENTLY
// refuses, so each is sent on its own. A `;` ends a statement except inside a string ('…', E'…'),
// a quoted identifier ("…"), a dollar-quoted body ($$…$$, $tag$…$tag$) or a comment (-- …, /* … */,
// nested as PostgreSQL nests them).

export interface SqlStatement {
  readonly text: string;
  /** 1-based line of the statement's first character in the script, for messages. */
  readonly line: number;
}

export function splitSqlStatements(sql: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let start = 0;
  let index = 0;
  const push = (end: number) => {
    const raw = sql.slice(start, end);
    const offset = raw.search(/\S/);
    if (offset >= 0 && !isOnlyComments(raw)) {
      statements.push({ text: raw.trim(), line: lineAt(sql, start + offset) });
    }
  };
  while (index < sql.length) {
    const char = sql[index]!;
    const next = sql[index + 1];
    if (char === '-' && next === '-') {
      const end = sql.indexOf('\n', index);
      index = end === -1 ? sql.length : end + 1;
    } else if (char === '/' && next === '*') {
      index = endOfBlockComment(sql, index);
    } else if (char === "'" || char === '"') {
      index = endOfQuoted(sql, index, char);
    } else if (char === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(index));
      // `$1` (a parameter) or `a$b` (part of a name) is not a dollar quote.
      if (tag && !/[A-Za-z0-9_]/.test(sql[index - 1] ?? '')) {
        const close = sql.indexOf(tag[0], index + tag[0].length);
        index = close === -1 ? sql.length : close + tag[0].length;
      } else {
        index += 1;
      }
    } else if (char === ';') {
      push(index);
      index += 1;
      start = index;
    } else {
      index += 1;
    }
  }
  push(sql.length);
  return statements;
}

function endOfBlockComment(sql: string, from: number): number {
  let depth = 0;
  let index = from;
  while (index < sql.length) {
    if (sql.startsWith('/*', index)) {
      depth += 1;
      index += 2;
    } else if (sql.startsWith('*/', index)) {
      depth -= 1;
      index += 2;
      if (depth === 0) return index;
    } else {
      index += 1;
    }
  }
  return sql.length;
}

/** A doubled quote inside is an escaped quote; a backslash escapes in E'…' strings. */
function endOfQuoted(sql: string, from: number, quote: string): number {
  const escapes = quote === "'" && /[eE]/.test(sql[from - 1] ?? '') && !/[A-Za-z0-9_]/.test(sql[from - 2] ?? '');
  let index = from + 1;
  while (index < sql.length) {
    const char = sql[index]!;
    if (escapes && char === '\\') {
      index += 2;
    } else if (char === quote) {
      if (sql[index + 1] === quote) index += 2;
      else return index + 1;
    } else {
      index += 1;
    }
  }
  return sql.length;
}

function isOnlyComments(text: string): boolean {
  return text.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '').trim() === '';
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let index = 0; index < offset; index += 1) if (text[index] === '\n') line += 1;
  return line;
}
