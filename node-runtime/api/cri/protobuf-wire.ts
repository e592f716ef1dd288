// Just enough of the protobuf wire format to extend an embedded message in place. Appending a
// second copy of an embedded field is valid protobuf (parsers must merge), but not every parser
// merges (protobufjs replaces), so the extra fields are written inside the existing field instead.

function readVarint(buf: Buffer, pos: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new Error("protobuf: truncated varint");
    const b = buf[pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, pos];
    shift += 7;
    if (shift > 63) throw new Error("protobuf: varint too long");
  }
}

function writeVarint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

/** Offsets of one top-level field: [start of tag, start of payload, end]. */
interface FieldSpan {
  field: number;
  wireType: number;
  start: number;
  payloadStart: number;
  end: number;
}

function* fields(buf: Buffer): Generator<FieldSpan> {
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [key, afterKey] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    let payloadStart = afterKey;
    let end: number;
    switch (wireType) {
      case 0:
        end = readVarint(buf, afterKey)[1];
        break;
      case 1:
        end = afterKey + 8;
        break;
      case 2: {
        const [len, afterLen] = readVarint(buf, afterKey);
        payloadStart = afterLen;
        end = afterLen + len;
        break;
      }
      case 5:
        end = afterKey + 4;
        break;
      default:
        throw new Error(`protobuf: unsupported wire type ${wireType} for field ${field}`);
    }
    if (end > buf.length) throw new Error(`protobuf: field ${field} runs past the end of the message`);
    yield { field, wireType, start, payloadStart, end };
    pos = end;
  }
}

/**
 * Returns `message` with `extra` (encoded fields of the embedded message type) added inside its
 * last occurrence of embedded field `field`, or a new such field when there is none.
 */
export function extendEmbeddedField(message: Buffer, field: number, extra: Uint8Array): Buffer {
  let last: FieldSpan | undefined;
  for (const f of fields(message)) if (f.field === field && f.wireType === 2) last = f;
  const tag = writeVarint(field * 8 + 2);
  if (last === undefined) return Buffer.concat([message, tag, writeVarint(extra.length), extra]);
  const payload = message.subarray(last.payloadStart, last.end);
  return Buffer.concat([message.subarray(0, last.start), tag, writeVarint(payload.length + extra.length), payload, extra, message.subarray(last.end)]);
}

/**
 * Returns `message` with each occurrence of embedded field `field` passed through `edit`: the
 * field's payload is replaced by what `edit` returns (the same bytes to keep it), or dropped when
 * `edit` returns undefined. Every other field keeps its bytes and place.
 */
export function editEmbeddedFields(message: Buffer, field: number, edit: (payload: Buffer) => Buffer | undefined): Buffer {
  const parts: Buffer[] = [];
  let copied = 0;
  for (const f of fields(message)) {
    if (f.field !== field || f.wireType !== 2) continue;
    const payload = message.subarray(f.payloadStart, f.end);
    const edited = edit(payload);
    if (edited === payload) continue;
    parts.push(message.subarray(copied, f.start));
    if (edited !== undefined) parts.push(writeVarint(field * 8 + 2), writeVarint(edited.length), edited);
    copied = f.end;
  }
  if (copied === 0) return message;
  parts.push(message.subarray(copied));
  return Buffer.concat(parts);
}
