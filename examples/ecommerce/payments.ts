/**
 * The payment provider, faked as a card network's test tokens are: `tok_visa` is captured,
 * `tok_declined` is declined, and `tok_no_answer` is accepted but never answered (as a provider
 * whose webhook never comes), which the checkout saga's timeout must deal with.
 */
export type ChargeOutcome =
  | { readonly status: "captured"; readonly chargeId: string }
  | { readonly status: "declined"; readonly reason: string }
  | { readonly status: "pending" };

export interface PaymentProvider {
  /** `idempotencyKey` is the saga's command id: a real provider charges a key once. */
  charge(token: string, amountCents: number, idempotencyKey: string): Promise<ChargeOutcome>;
}

export const TEST_TOKENS = ["tok_visa", "tok_declined", "tok_no_answer"] as const;

export const fakePaymentProvider: PaymentProvider = {
  async charge(token, _amountCents, idempotencyKey) {
    if (token === "tok_declined") return { status: "declined", reason: "card declined" };
    if (token === "tok_no_answer") return { status: "pending" };
    return { status: "captured", chargeId: `ch_${idempotencyKey.replaceAll("/", "_")}` };
  },
};
