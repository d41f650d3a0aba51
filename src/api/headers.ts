/** Response header of `GET /v1/jobs`: how many hosts or cells the listing lacks (0 when complete). */
export const MISSING_HEADER = 'shoal-missing';
