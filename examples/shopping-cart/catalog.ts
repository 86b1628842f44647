/**
 * The product catalog, standing in for a pricing service the cart asks over the network. The
 * lookup is asynchronous on purpose: the time between loading a cart and saving it is where a
 * concurrent change can slip in.
 */
export interface Product {
  readonly sku: string;
  readonly name: string;
  readonly unitPriceCents: number;
}

export class Catalog {
  readonly #products: ReadonlyMap<string, Product>;
  readonly #latencyMs: number;

  constructor(products: readonly Product[], latencyMs = 1) {
    this.#products = new Map(products.map((product) => [product.sku, product]));
    this.#latencyMs = latencyMs;
  }

  /** The product, or `undefined` when the catalog does not sell it. */
  async find(sku: string): Promise<Product | undefined> {
    await new Promise((resolve) => setTimeout(resolve, this.#latencyMs));
    return this.#products.get(sku);
  }
}

export const demoProducts: readonly Product[] = [
  { sku: "TEA-001", name: "Sencha green tea, 100 g", unitPriceCents: 1250 },
  { sku: "MUG-002", name: "Stoneware mug", unitPriceCents: 1800 },
  { sku: "POT-003", name: "Cast-iron teapot", unitPriceCents: 5400 },
  { sku: "BIS-004", name: "Oat biscuits", unitPriceCents: 450 },
];
