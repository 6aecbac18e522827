/**
 * The packetdrill runner: {@link runScript} / {@link runScriptFile} run a script against a
 * stack on the virtual clock; {@link packetdrillMain} is `skb packetdrill`.
 * @packageDocumentation
 */
export { type CliIo, formatResult, packetdrillMain } from "./cli.js";
export {
  KNOWN_FAILING,
  LINUX_TOLERANCE_USECS,
  PASSES_AT_LINUX_TOLERANCE,
} from "./known_failing.js";
export { evalPy, PyNameError, type PyValue, runAsserts } from "./python_eval.js";
export {
  DEFAULT_LOCAL_IP,
  DEFAULT_REMOTE_IP,
  REMOTE_ISN,
  REMOTE_PORT,
  runScript,
  runScriptFile,
  type ScriptFailure,
  type ScriptResult,
} from "./run.js";
