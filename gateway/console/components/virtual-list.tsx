import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

const OVERSCAN = 8;

/**
 * Renders only the rows in view (plus a few), so 10,000 rows cost what 40 do. Rows have a fixed
 * height; `onRange` is told which ones are shown, so the page can follow just those.
 */
export function VirtualList<T>(props: {
  items: readonly T[];
  rowHeight: number;
  height: string;
  render: (item: T, index: number) => ComponentChildren;
  onRange?: (first: number, last: number) => void;
  testId?: string;
}) {
  const { items, rowHeight, render, onRange } = props;
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewHeight, setViewHeight] = useState(600);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const resize = new ResizeObserver(() => setViewHeight(el.clientHeight));
    resize.observe(el);
    setViewHeight(el.clientHeight);
    return () => resize.disconnect();
  }, []);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((scrollTop + viewHeight) / rowHeight) + OVERSCAN);

  useEffect(() => {
    onRange?.(first, last);
  }, [first, last, items, onRange]);

  const rows: ComponentChildren[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div
        key={i}
        class="vrow"
        style={{ transform: `translateY(${i * rowHeight}px)`, height: `${rowHeight}px` }}
      >
        {render(items[i] as T, i)}
      </div>,
    );
  }
  return (
    <div
      ref={box}
      class="vlist"
      data-testid={props.testId}
      style={{ height: props.height }}
      onScroll={(e) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)}
    >
      <div style={{ height: `${items.length * rowHeight}px`, position: 'relative' }}>{rows}</div>
    </div>
  );
}
