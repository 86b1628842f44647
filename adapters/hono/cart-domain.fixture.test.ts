/** The cart domain the HTTP tests share, where the Hono tests have always imported it. (No tests in this file.) */
export * from "../http/cart-domain.fixture.test.ts";
