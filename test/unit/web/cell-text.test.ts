import { describe, expect, it } from 'vitest';
import { cellText } from '../../../src/web/cell-text.js';

describe('cellText (playground table cells)', () => {
  it('shows floats with at most six decimals, trailing zeros dropped, as pandas does', () => {
    expect(cellText(2.7199999999999998)).toBe('2.72');
    expect(cellText(14.944789515692141)).toBe('14.94479');
    expect(cellText(27.382978723404257)).toBe('27.382979');
    expect(cellText(-0.5)).toBe('-0.5');
    expect(cellText(0.1 + 0.2)).toBe('0.3');
  });

  it('keeps tiny floats in exponent form instead of rounding them to 0, and huge ones whole', () => {
    expect(cellText(1.23456789e-9)).toBe('1.23457e-9');
    expect(cellText(-2.5e-7)).toBe('-2.5e-7');
    // Floats this large are whole numbers: shown as JavaScript writes them, digits kept.
    expect(cellText(6.02214076e23)).toBe('6.02214076e+23');
  });

  it('leaves integers, text, booleans and missing values as they are', () => {
    expect(cellText(1152921504606846)).toBe('1152921504606846');
    expect(cellText(0)).toBe('0');
    expect(cellText('2.7199999999999998')).toBe('2.7199999999999998');
    expect(cellText(true)).toBe('true');
    expect(cellText(null)).toBe('');
  });
});
