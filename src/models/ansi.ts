/**
 * ANSI escape sequences of a log line turned into styled segments.
 *
 * Only SGR sequences (colours, bold, underline) are kept, as JupyterLab's own `ansi-*` class
 * names so the colours follow the theme exactly as notebook outputs do; every other escape
 * (cursor movement, erase line, OSC titles) is dropped, and a carriage return keeps what a
 * terminal would show (the text after the last one), which is how pip/uv progress bars end up.
 */

/** A run of text with its CSS classes. */
export interface IAnsiSegment {
  text: string;
  classes: string[];
}

const COLOURS = [
  'black',
  'red',
  'green',
  'yellow',
  'blue',
  'magenta',
  'cyan',
  'white'
];

// ESC [ params final-byte (CSI) | ESC ] ... BEL or ESC \ (OSC) | ESC and one other character.

const ESCAPE =
  /\x1b\[([0-9;?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

interface IStyle {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  underline: boolean;
}

function classesOf(style: IStyle): string[] {
  const out: string[] = [];
  if (style.fg) {
    out.push(`ansi-${style.fg}-fg`);
  }
  if (style.bg) {
    out.push(`ansi-${style.bg}-bg`);
  }
  if (style.bold) {
    out.push('ansi-bold');
  }
  if (style.underline) {
    out.push('ansi-underline');
  }
  return out;
}

function colourOf(index: number): string | null {
  if (index >= 0 && index < 8) {
    return COLOURS[index];
  }
  if (index >= 8 && index < 16) {
    return `${COLOURS[index - 8]}-intense`;
  }
  return null; // the 256-colour cube and RGB have no theme colour: shown plain
}

function applySGR(style: IStyle, params: string): void {
  const codes =
    params === '' ? [0] : params.split(';').map(p => parseInt(p, 10) || 0);
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i];
    if (code === 0) {
      style.fg = style.bg = null;
      style.bold = style.underline = false;
    } else if (code === 1) {
      style.bold = true;
    } else if (code === 22) {
      style.bold = false;
    } else if (code === 4) {
      style.underline = true;
    } else if (code === 24) {
      style.underline = false;
    } else if (code >= 30 && code <= 37) {
      style.fg = COLOURS[code - 30];
    } else if (code >= 90 && code <= 97) {
      style.fg = `${COLOURS[code - 90]}-intense`;
    } else if (code === 39) {
      style.fg = null;
    } else if (code >= 40 && code <= 47) {
      style.bg = COLOURS[code - 40];
    } else if (code >= 100 && code <= 107) {
      style.bg = `${COLOURS[code - 100]}-intense`;
    } else if (code === 49) {
      style.bg = null;
    } else if (code === 38 || code === 48) {
      // 38;5;n or 38;2;r;g;b (and 48 for the background)
      let colour: string | null = null;
      if (codes[i + 1] === 5) {
        colour = colourOf(codes[i + 2]);
        i += 2;
      } else if (codes[i + 1] === 2) {
        i += 4;
      }
      if (code === 38) {
        style.fg = colour;
      } else {
        style.bg = colour;
      }
    }
  }
}

/** True when the text holds an escape or a carriage return (the fast path skips parsing). */
export function hasEscapes(text: string): boolean {
  return text.indexOf('\x1b') >= 0 || text.indexOf('\r') >= 0;
}

/** What a terminal shows of a line that holds carriage returns: the text after the last one. */
export function applyCarriageReturns(text: string): string {
  const trimmed = text.replace(/\r+$/, '');
  const last = trimmed.lastIndexOf('\r');
  return last >= 0 ? trimmed.slice(last + 1) : trimmed;
}

/** Split one line into styled segments (adjacent runs of the same style are merged). */
export function parseAnsi(line: string): IAnsiSegment[] {
  const text = applyCarriageReturns(line);
  if (text.indexOf('\x1b') < 0) {
    return text.length ? [{ text, classes: [] }] : [];
  }
  const style: IStyle = { fg: null, bg: null, bold: false, underline: false };
  const segments: IAnsiSegment[] = [];
  let last = 0;
  const push = (chunk: string) => {
    if (!chunk) {
      return;
    }
    const classes = classesOf(style);
    const prev = segments[segments.length - 1];
    if (prev && prev.classes.join(' ') === classes.join(' ')) {
      prev.text += chunk;
    } else {
      segments.push({ text: chunk, classes });
    }
  };
  ESCAPE.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = ESCAPE.exec(text)) !== null) {
    push(text.slice(last, match.index));
    if (match[2] === 'm') {
      applySGR(style, match[1]);
    }
    last = ESCAPE.lastIndex;
  }
  push(text.slice(last));
  return segments;
}

/** The plain text of a line, without escapes (for search and copy). */
export function stripAnsi(line: string): string {
  return parseAnsi(line)
    .map(s => s.text)
    .join('');
}
