import type { DevicePageEntity } from "../storage/devicePages.js";
import type { ImportStore } from "../storage/importStore.js";

export type RangeRowsStore = Pick<ImportStore, "readPageKeys" | "readPage" | "expandPage" | "readBatch">;

/**
 * The device rows of one fan-out range, written from the range's pages (devicePages.ts) in
 * device order, a page at a time, as the range's sends need them: a device's message is sent only
 * once its row exists, so a worker never claims a device it cannot read.
 *
 * After each page it wrote, it reads the batch's header: a cancel marks the header before it
 * moves the rows it finds, so a device is either found by the cancel (its row was written before
 * the mark) or its page was written after the mark and the fan-out sees it.
 */
export class RangeRows {
  /** The range's pages, keys only: each page's devices are read when it is expanded, so a worker holds one page at a time. */
  private pages: Pick<DevicePageEntity, "rowKey" | "first" | "count">[] | undefined;
  private nextPage = 0;
  private canceled = false;

  constructor(
    private readonly store: RangeRowsStore,
    private readonly batchId: string,
    private readonly from: number,
    private readonly to: number,
  ) {}

  /** Writes the next page's rows. `upTo`: every device of the range before it has its row now. */
  async expandNext(): Promise<{ upTo: number; canceled: boolean }> {
    const pages = await this.pagesOfRange();
    const page = pages[this.nextPage];
    if (!page) return { upTo: this.to, canceled: this.canceled };
    // Gone, or false: another worker wrote it first (a redelivery running beside its original); its rows are there.
    const whole = await this.store.readPage(this.batchId, page.rowKey);
    if (whole) await this.store.expandPage(whole);
    this.nextPage++;
    this.canceled ||= Boolean((await this.store.readBatch(this.batchId))?.canceledAt);
    const following = pages[this.nextPage];
    return { upTo: following ? following.first : this.to, canceled: this.canceled };
  }

  /**
   * Writes pages until every device before `index` has its row (none when they all have); it stops
   * early at a cancel, unless told `evenIfCanceled` (a canceled range still gets all its rows).
   */
  async expandThrough(index: number, evenIfCanceled = false): Promise<{ canceled: boolean }> {
    const pages = await this.pagesOfRange();
    while ((evenIfCanceled || !this.canceled) && (pages[this.nextPage]?.first ?? this.to) < index) await this.expandNext();
    return { canceled: this.canceled };
  }

  private async pagesOfRange(): Promise<Pick<DevicePageEntity, "rowKey" | "first" | "count">[]> {
    this.pages ??= (await this.store.readPageKeys(this.batchId, this.from, this.to)).sort((a, b) => a.first - b.first);
    return this.pages;
  }
}
