// A card reader on stdin/stdout, for a real pseudo-terminal pair made by socat:
//   socat pty,raw,echo=0,link=/tmp/reader EXEC:'node --import tsx scripts/reader-emulator.ts --mode framed --card 7789000000019'
// lines:  prints the card's track-2 line every --every ms (a reader swiping again and again).
// framed: answers the framed chip protocol (drivers/emulator.ts), announcing the card every
//         --every ms until the host starts talking; --garbage N / --drop N inject faults.
import { parseArgs } from 'node:util';
import { ReaderEmulator } from '../drivers/emulator';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'lines' },
    card: { type: 'string', default: '7789000000019' },
    line: { type: 'string' },
    every: { type: 'string', default: '300' },
    garbage: { type: 'string', default: '0' },
    drop: { type: 'string', default: '0' },
    'follow-ups': { type: 'boolean', default: false },
  },
});
const every = Number(values.every);
const out = (bytes: Uint8Array | string) => process.stdout.write(bytes);

if (values.mode === 'lines') {
  const line = values.line ?? `;${values.card}=2812?`;
  setInterval(() => out(`${line}\r\n`), every);
} else {
  const emulator = new ReaderEmulator(
    { cardNumber: values.card!, garbageFrames: Number(values.garbage), dropFrames: Number(values.drop), followUps: values['follow-ups'] },
    (bytes) => out(bytes),
  );
  let talking = false;
  const announce = setInterval(() => (talking ? clearInterval(announce) : emulator.insertCard()), every);
  emulator.insertCard();
  process.stdin.on('data', (chunk: Buffer) => {
    emulator.receive(chunk);
    if (emulator.stats.acked > 0) talking = true;
  });
}
process.stdin.on('end', () => process.exit(0));
