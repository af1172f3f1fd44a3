import { z } from 'zod';

/** A JSON Schema document (draft 2020-12) as produced by {@link toJsonSchema}. */
export type JsonSchema = z.core.JSONSchema.BaseSchema;

// WeakMaps keyed by schema instance, so a hint describes exactly the schema it was given.
const fixedSchemas = new WeakMap<z.core.$ZodType, JsonSchema>();
const aliasSchemas = new WeakMap<z.core.$ZodType, z.core.$ZodType>();
const oneOfSchemas = new WeakMap<z.core.$ZodType, readonly z.core.$ZodType[]>();

// `.check()` returns a clone whose `parent` is the unchecked schema, and zod converts that parent
// too, so a hint must cover the whole chain.
function chain(schema: z.core.$ZodType): z.core.$ZodType[] {
  const schemas: z.core.$ZodType[] = [];
  for (let current: z.core.$ZodType | undefined = schema; current; current = current._zod.parent) {
    schemas.push(current);
  }
  return schemas;
}

/**
 * Declares the JSON Schema of a schema zod cannot represent itself (a `z.custom` with checks).
 * @internal
 */
export function registerJsonSchema(schema: z.core.$ZodType, jsonSchema: JsonSchema): void {
  for (const link of chain(schema)) fixedSchemas.set(link, jsonSchema);
}

/**
 * Declares that a schema zod cannot represent is exported as another schema: a guard that only
 * checks the raw input exports as the schema it guards.
 * @internal
 */
export function registerJsonSchemaAlias(schema: z.core.$ZodType, target: z.core.$ZodType): void {
  for (const link of chain(schema)) aliasSchemas.set(link, target);
}

/**
 * Declares that a schema, validated at runtime as one object with cross-field checks, is exported
 * as `oneOf` its exact alternatives, which JSON Schema tools understand better than prose.
 * @internal
 */
export function registerJsonSchemaOneOf(
  schema: z.core.$ZodType,
  alternatives: readonly z.core.$ZodType[],
): void {
  oneOfSchemas.set(schema, alternatives);
}

// Annotations survive the oneOf rewrite; structural keywords are replaced.
const ANNOTATIONS = new Set(['$schema', 'title', 'description', 'examples', 'deprecated']);

function unrepresentable(schema: z.core.$ZodType): JsonSchema | undefined {
  const alias = aliasSchemas.get(schema);
  return alias ? generate(alias, false) : fixedSchemas.get(schema);
}

function generate(schema: z.core.$ZodType, root: boolean): JsonSchema {
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    // What a sender must produce; an object that strips unknown keys (hello) then accepts them.
    io: 'input',
    unrepresentable: (ctx) => unrepresentable(ctx.zodSchema) ?? 'throw',
    override: (ctx) => {
      const alternatives = oneOfSchemas.get(ctx.zodSchema);
      if (!alternatives) return;
      const target = ctx.jsonSchema as Record<string, unknown>;
      for (const key of Object.keys(target)) if (!ANNOTATIONS.has(key)) delete target[key];
      target['oneOf'] = alternatives.map((alternative) => generate(alternative, false));
    },
  });
  if (!root) delete json.$schema;
  return json;
}

/**
 * JSON Schema (draft 2020-12) of any schema from this package, describing what a sender must
 * produce. Use it rather than `z.toJSONSchema`, which throws on the free-form JSON fields and
 * exports telemetry as one loose object instead of `oneOf` single and batch.
 */
export function toJsonSchema(schema: z.core.$ZodType): JsonSchema {
  return generate(schema, true);
}
