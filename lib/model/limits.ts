/**
 * Model input-size rules shared by every entry point (load options, engine profiles,
 * engine builds, Triton export; validate.ts checks options against them), and the default
 * image-size limit. native/core/include/m3d/limits.h holds the same values
 * for the native workers; a test checks that the two agree.
 * @internal
 */
/** ViT patch size: a dynamic model input must be a multiple of it. */
export const PATCH = 14;
/** Smallest model input side: one patch. */
export const MIN_INPUT_SIDE = 14;
/** Largest model input side (height or width). */
export const MAX_INPUT_SIDE = 8192;
/** The Metric3D v2 canonical input size [height, width], used when neither the graph nor the registry fixes one. */
export const DEFAULT_INPUT_SIZE: readonly [number, number] = [616, 1064];
/** Default of the `maxPixels` load option: the largest image accepted, in pixels (40 MP). */
export const DEFAULT_MAX_PIXELS = 40_000_000;
