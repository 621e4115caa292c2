export {
  DEFAULT_PAYOUT_CSV_BATCH_SIZE,
  DEFAULT_PAYOUT_CSV_LIMITS,
  parsePayoutCsv,
  type ParsePayoutCsvOptions,
  type PayoutCsvLimits,
  type RawPayoutRow,
} from './parse-payout-csv';
export {
  PAYOUT_CSV_ERROR_CODES,
  PayoutCsvError,
  type PayoutCsvErrorCode,
  type PayoutCsvErrorDetails,
} from './payout-csv-error';
export { csvCell, csvLine, csvNumberCell } from './csv-writer';
