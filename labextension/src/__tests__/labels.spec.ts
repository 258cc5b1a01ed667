/// <reference types="node" />
import { readFileSync } from 'fs';
import { join } from 'path';

import { ILabel, labelAddress, parseLabel, stripLabel } from '../formula';

interface ICase {
  code: string;
  label: ILabel | null;
  note: string;
}

/** The label grammar's table, shared with the kernel's `cargo test` (core/labels.rs). */
const TABLE = join(
  __dirname,
  '..',
  '..',
  '..',
  'kernel',
  'tests',
  'data',
  'labels.json'
);
const cases: ICase[] = JSON.parse(readFileSync(TABLE, 'utf8')).cases;

describe('the label grammar (kernel/tests/data/labels.json)', () => {
  it('has enough cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases.map(c => [c.note, c] as [string, ICase]))(
    '%s',
    (_note, { code, label }) => {
      expect(parseLabel(code)).toEqual(label);
      expect(labelAddress(code)).toBe(label ? label.address : null);
      const nl = code.indexOf('\n');
      expect(stripLabel(code)).toEqual(
        label
          ? {
              label: nl < 0 ? code : code.slice(0, nl),
              body: nl < 0 ? '' : code.slice(nl + 1)
            }
          : { label: null, body: code }
      );
    }
  );
});
