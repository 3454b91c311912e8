/** Display helpers: numbers as a monitor shows them, ages, labels. */
import type { Values } from './live.ts';

export function fmt(v: number | undefined, decimals = 0): string {
  return v === undefined || !Number.isFinite(v) ? '--' : v.toFixed(decimals);
}

export function bp(v: Values): string {
  return v.systolicBp === undefined ? '--/--' : `${fmt(v.systolicBp)}/${fmt(v.diastolicBp)}`;
}

export function age(ms: number): string {
  if (!Number.isFinite(ms)) return 'no data';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h ${m % 60} min` : `${Math.floor(h / 24)} d`;
}

export function clock(t: number): string {
  return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export const PRIORITY_LABEL: Record<string, string> = { high: 'HIGH', medium: 'MEDIUM', low: 'LOW' };

export const PARAMETER_LABEL: Record<string, string> = {
  respirationRate: 'Respiration rate',
  spo2: 'SpO₂',
  airOrOxygen: 'Air or oxygen',
  systolicBp: 'Systolic BP',
  pulse: 'Pulse',
  consciousness: 'Consciousness',
  temperature: 'Temperature',
};

/** NEWS2 band to words a nurse reads (RCP 2017 clinical response). */
export function news2Words(band: string): string {
  switch (band) {
    case 'high':
      return 'High: emergency response';
    case 'medium':
      return 'Medium: urgent review';
    case 'low-medium':
      return 'Low–medium: urgent ward review';
    case 'low':
      return 'Low: ward assessment';
    default:
      return 'Routine monitoring';
  }
}
