/**
 * Testing helpers for users and our suites: gradient checks and 1-Lipschitz properties.
 * @module
 */
export {};
