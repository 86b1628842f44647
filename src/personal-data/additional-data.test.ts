import { expect, test } from "bun:test";
import fc from "fast-check";
import { AAD_LABEL, AAD_LABEL_V3, additionalData, additionalDataInScratch } from "./field-crypto.js";

// The scratch form skips rewriting the additional data's end when the same end already sits at the same
// place (field-crypto.ts): whatever came before, its bytes must be exactly those of additionalData.
test("the additional data built in scratch is additionalData's, byte for byte, after any sequence of calls (property)", () => {
  // Few distinct values, so that calls repeat one another's parts at the same places.
  const text = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("", "a", "Cart-1", "ItemAdded", "email", "é", "\u0000", '"') },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  );
  const call = fc.record({
    subject: text,
    context: fc.array(text, { maxLength: 3 }),
    fields: fc.array(text, { maxLength: 3 }),
    label: fc.constantFrom(AAD_LABEL, AAD_LABEL_V3),
  });
  fc.assert(
    fc.property(fc.array(call, { minLength: 1, maxLength: 12 }), (calls) => {
      for (const { subject, context, fields, label } of calls) {
        const scratch = additionalDataInScratch(subject, context, fields, label);
        expect([...scratch]).toEqual([...additionalData(subject, context, fields, label)]);
      }
    }),
    {
      numRuns: 2000,
      // A call without context writes where the one before it left its end, then that call again.
      examples: [
        [
          [
            { subject: "s", context: ["event", "T"], fields: ["email"], label: AAD_LABEL_V3 },
            { subject: "s", context: [], fields: ["email"], label: AAD_LABEL_V3 },
            { subject: "s", context: ["event", "T"], fields: ["email"], label: AAD_LABEL_V3 },
          ],
        ],
      ],
    },
  );
});
