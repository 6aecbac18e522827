/**
 * Config files: `stack.yaml` / `network.yaml` (or `.json`, `.js`, `.ts`) into the options
 * `createStack` and `createNetwork` take.
 * @packageDocumentation
 */
export { type ConfigEnv, expandEnv } from "./env.js";
export {
  ConfigFileError,
  formatPath,
  issuesToConfigError,
  type PathSegment,
  type SourcePosition,
} from "./errors.js";
export {
  type LoadConfigOptions,
  loadNetworkOptions,
  loadStackOptions,
} from "./load.js";
export { type ConfigFormat, type ConfigSource, readConfigFile, readConfigSource } from "./read.js";
export { factoryName, resolveDeviceDriverPlugin, resolveModule, resolvePlugin } from "./resolve.js";
export {
  DeviceSchema,
  EXPECTED,
  type HostFile,
  HostSchema,
  LinkSchema,
  type NetworkFile,
  NetworkFileSchema,
  type PluginEntry,
  PluginEntrySchema,
  type PluginUse,
  PluginUseSchema,
  RouteSchema,
  ServiceSchema,
  type StackFile,
  StackFileSchema,
  SysctlSchema,
} from "./schema.js";
