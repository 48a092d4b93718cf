// The string formats LINE's message schemas use, for ajv's standalone code (scripts/line-messages.ts): ajv-formats'
// full set plus the two OpenAPI integer formats. Bundled into src/lib/line/generated/validate-message.mjs.
const { fullFormats } = require("ajv-formats/dist/formats");
module.exports = {
  ...fullFormats,
  int32: { type: "number", validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 },
  int64: { type: "number", validate: (n) => Number.isInteger(n) },
};
