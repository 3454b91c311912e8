/** Response and body schemas shared by several routes (also feed the OpenAPI document). */
import { Type } from 'typebox';

export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) =>
  Type.Union([t, Type.Null()]);

export const RoleSchema = Type.Union([
  Type.Literal('patient'),
  Type.Literal('clinician'),
  Type.Literal('auditor'),
  Type.Literal('admin'),
]);

export const UserSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  role: RoleSchema,
  displayName: Type.String(),
  patientId: Nullable(Type.String()),
  disabled: Type.Boolean(),
});

export const PatientSchema = Type.Object({
  id: Type.String(),
  mrn: Type.String(),
  name: Type.String(),
  givenName: Type.String(),
  familyName: Type.String(),
  sex: Nullable(Type.String()),
  birthDate: Nullable(Type.String()),
  ward: Nullable(Type.String()),
  bed: Nullable(Type.String()),
});

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const ObservationSchema = Type.Object({
  id: Type.String(),
  patientId: Type.String(),
  code: Type.String(),
  codeSystem: Type.String(),
  display: Nullable(Type.String()),
  mdcCode: Nullable(Type.String()),
  valueNum: Nullable(Type.Number()),
  valueText: Nullable(Type.String()),
  unit: Nullable(Type.String()),
  refRange: Nullable(Type.String()),
  abnormalFlags: Nullable(Type.String()),
  status: Type.String(),
  category: Nullable(Type.String()),
  panel: Nullable(Type.String()),
  effectiveAt: Type.Integer({ description: 'milliseconds since the epoch' }),
  recordedAt: Type.Integer(),
  source: Type.String(),
  sourceRef: Nullable(Type.String()),
});
