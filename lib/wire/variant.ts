/**
 * How a request picks a transport's variant: the part of its bytes that
 * differs per request and is shared by every subscriber asking the same
 * (the iframe's and JSONP's callback name). Frames are encoded once per
 * (message, transport, variant).
 */

/**
 * `none`: the variant is always `''`. `callback`: the request must carry
 * `?callback=NAME` (and may carry `?origin=`, which the Koa glue checks against
 * the CORS allow-list first); `parse` turns them into the variant.
 */
export type VariantRule =
  | { readonly from: 'none' }
  | {
      readonly from: 'callback';
      /**
       * The variant for a request's callback name and origin.
       * @throws CometError `COMET_ERR_CALLBACK_INVALID`, `COMET_ERR_ORIGIN_FORBIDDEN`.
       */
      parse(callback: string, origin: string | undefined): string;
    };

/** The rule of a transport whose bytes are the same for every request. */
export const NO_VARIANT: VariantRule = { from: 'none' };
