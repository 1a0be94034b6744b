export { checkTargetName, compareAddresses, formatAddress, generatorOf, type Address } from './address.js';
export { parseAddressInput, resolveAddressInput, type AddressInput } from './address-input.js';
export { BuildFileKey } from './build-file-key.js';
export { changedFiles, changedTargets, type ChangedDependents } from './changed.js';
export { DependenciesKey, targetAt, type ResolvedDependencies } from './dependencies.js';
export { DirTargetsKey, type DirTargets } from './dir-targets.js';
export { convertField, describeFieldType, type FieldSpec, type FieldType, type FieldValue } from './fields.js';
export {
  dependentsOf,
  ReverseDependenciesKey,
  transitiveDependencies,
  TransitiveDependenciesKey,
  type Reader,
  type ReverseDependencies,
  type TransitiveDependencies,
} from './graph.js';
export { findTarget, unknownTarget } from './lookup.js';
export { OwnersKey } from './owners.js';
export { parseSpec, SpecAddressesKey, SpecsKey, type Spec } from './specs.js';
export { TargetDirsUnderKey, type BuildDeclaration, type SyntheticTarget, type SyntheticTargetsProvider } from './synthetic.js';
export { stringField, stringListField, tagsOf, type DependencyRef, type Target } from './target.js';
export { createProject, type DependencyInferrer, type InferenceWarning, type Project } from './project.js';
export { COMMON_FIELDS, TargetTypeRegistry, type TargetType } from './target-type.js';
