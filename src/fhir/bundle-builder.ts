/** Searchset Bundles with self and next links. */
import type { Bundle, BundleLink, Resource } from '@medplum/fhirtypes';

export interface SearchPage {
  resources: Resource[];
  /** Cursor for the next page, when there is one. */
  next: string | undefined;
  total: number | undefined;
}

/**
 * `rawQuery` is the request's query string; links repeat it with `_cursor` replaced (and `_count`
 * lowered when the server capped it), so following `next` continues exactly this search.
 */
export function searchset(
  base: string,
  type: string,
  rawQuery: string,
  page: SearchPage,
  count: number,
): Bundle {
  const params = new URLSearchParams(rawQuery);
  params.delete('_cursor');
  if (params.has('_count')) params.set('_count', String(count));
  const self = params.toString();
  const link: BundleLink[] = [{ relation: 'self', url: `${base}/${type}${self ? `?${self}` : ''}` }];
  if (page.next) {
    params.set('_cursor', page.next);
    link.push({ relation: 'next', url: `${base}/${type}?${params.toString()}` });
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset' };
  if (page.total !== undefined) bundle.total = page.total;
  bundle.link = link;
  bundle.entry = page.resources.map((resource) => ({
    fullUrl: `${base}/${resource.resourceType}/${resource.id}`,
    resource,
    search: { mode: 'match' },
  }));
  return bundle;
}

/** `{"fullUrl":"<base>/<type>/` : how each entry of a searchset built as text begins. */
export function entryPrefix(base: string, type: string): string {
  return `{"fullUrl":${JSON.stringify(`${base}/${type}/`).slice(0, -1)}`;
}

/** One searchset entry as text around a resource already serialised (`prefix`: entryPrefix). */
export function entryJson(prefix: string, id: string, resourceJson: string): string {
  return `${prefix}${JSON.stringify(id).slice(1)},"resource":${resourceJson},"search":{"mode":"match"}}`;
}

/** A searchset's JSON text up to its `entry` array (exclusive): the text fast path's shell. */
export function searchsetHead(
  base: string,
  type: string,
  rawQuery: string,
  next: string | undefined,
  total: number | undefined,
  count: number,
): string {
  const shell = searchset(base, type, rawQuery, { resources: [], next, total }, count);
  return JSON.stringify(shell).slice(0, -'[]}'.length);
}

/**
 * The same searchset as `searchset`, as JSON text around entries already serialised (the
 * Observation search's fast path); equal to `JSON.stringify(searchset(…))` byte for byte.
 */
export function searchsetJson(
  base: string,
  type: string,
  rawQuery: string,
  entries: ReadonlyArray<{ id: string; json: string }>,
  next: string | undefined,
  total: number | undefined,
  count: number,
): string {
  const prefix = entryPrefix(base, type);
  const parts = entries.map((e) => entryJson(prefix, e.id, e.json));
  return withEntries(searchsetHead(base, type, rawQuery, next, total, count), parts.join(','));
}

/** The whole searchset: `head` (searchsetHead) around entries already joined by commas. */
export function withEntries(head: string, entries: string): string {
  return `${head}[${entries}]}`;
}
