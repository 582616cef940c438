/**
 * The tag every resource of a stage's stack carries, with the stage's name as its value (the stage
 * stack applies it to the whole stack; the group passes it on to the instances it launches). The CI
 * deploy role may register targets, suspend the group's processes and run commands on an instance
 * only when the resource carries one of its stages' values: CloudFormation generates those
 * resources' names, so a tag is the one thing the CI stack can rely on before a stage exists.
 */
export const STAGE_TAG_KEY = 'sluice:stage';
