// Types of the generated validator (server/scripts/line-messages.ts): an ajv standalone validate function.
import type { ErrorObject } from "ajv";

declare const validate: ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
export default validate;
