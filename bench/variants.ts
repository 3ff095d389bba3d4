/** The benchmark's variants: bare NestJS, this library with everything on, and the peers. */
export const VARIANTS = ['bare', 'nestjs-api-metrics', 'readmeio', 'moesif-nodejs', 'apitally'] as const;
export type Variant = (typeof VARIANTS)[number];
