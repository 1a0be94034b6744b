import { failure, type Failure } from '../core/index.js';
import { MAX_SYMLINK_HOPS, type LinkProblem } from './real-path.js';

/** The failure for reading through a symlink that leads out of the build root or round in a loop. */
export function linkFailure(problem: LinkProblem, extra: Pick<Failure, 'location'> = {}): Failure {
  if (problem.type === 'outside') {
    return failure('input', 'symlink-outside-root', `\`${problem.link}\` is a symlink to ${JSON.stringify(problem.target)}, outside the build root`, {
      ...extra,
      hints: ['trews reads nothing outside the build root: point the link at something inside it, or copy the file into the repository'],
    });
  }
  return failure('input', 'symlink-loop', `\`${problem.link}\` is a symlink that leads round in a loop (more than ${MAX_SYMLINK_HOPS} links followed)`, {
    ...extra,
    hints: ['point the link at a file or directory, not (through other links) at itself'],
  });
}
