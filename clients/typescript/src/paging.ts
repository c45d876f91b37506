/** A page as the API answers it: `value`, and `nextLink` while there is more. */
export interface Page<T> {
  value: T[];
  nextLink?: string;
}

/**
 * Every item of a paged list, page by page as the caller consumes them: `first` reads the first
 * page, `next` the page a nextLink names (a path on the API's origin).
 */
export async function* items<T>(first: () => Promise<Page<T>>, next: (nextLink: string) => Promise<Page<T>>): AsyncGenerator<T> {
  let page = await first();
  for (;;) {
    yield* page.value;
    if (!page.nextLink) return;
    page = await next(page.nextLink);
  }
}
