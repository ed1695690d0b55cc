import { comparisonText, planStopText, runText } from '../report/run-text.js';
import { searchText, sweepText } from '../report/sweep.js';
import { plain } from '../text.js';
import type { Output } from './output.js';

// The report on stdout: each run's verdicts as it ends, then the comparison table of variants.

export function terminalReport(stream: NodeJS.WritableStream): Output {
  return {
    runEnd(_run, result) {
      stream.write(plain(`${runText(result)}\n\n`));
    },
    stop(file) {
      if (file && 'variants' in file && file.variants.length > 1) {
        stream.write(`${comparisonText(file.variants)}\n`);
      }
      if (file && 'variants' in file && file.sweep) stream.write(`\n${sweepText(file)}\n`);
      if (file && 'variants' in file && file.search) stream.write(`\n${searchText(file.search)}\n`);
      const stopped = file && 'variants' in file ? planStopText(file) : null;
      if (stopped) stream.write(`${stopped}\n`);
    },
  };
}
