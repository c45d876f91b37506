/**
 * A cell a spreadsheet would run as a formula (=, +, -, @, tab, CR) gets a leading ', as the
 * API's own CSV export does. Base64 hashes can start with + or =, so reading our own file back
 * takes the ' off again.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export const guardCell = (value: string) => (FORMULA_START.test(value) ? `'${value}` : value);
export const unguardCell = (value: string) => (value.startsWith("'") && FORMULA_START.test(value.slice(1)) ? value.slice(1) : value);
