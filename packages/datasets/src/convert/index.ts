export { convertDataset, formatSummary, getConverter, converterNames, type ConvertOptions, type ConvertSummary } from './run.js';
export { CONVERTERS } from './converters.js';
export { readDescriptions, Descriptions } from './descriptions.js';
export type { Converter, ConverterContext, ConvertItem } from './types.js';
