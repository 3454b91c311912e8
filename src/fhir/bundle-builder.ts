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
