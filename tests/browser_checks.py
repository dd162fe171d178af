"""What a reader sees, measured in Chromium: text contrast, recognisable links, left edges."""

from __future__ import annotations

from typing import Any

# Every visible element with text of its own: its colour, the colour behind it (the first
# non-transparent background up the tree), the WCAG contrast ratio, and how a link looks.
TEXT_CONTRAST_JS = r"""
() => {
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const luminance = c => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const background = el => { for (; el; el = el.parentElement) { const c = parse(getComputedStyle(el).backgroundColor);
    if (c && c.a > 0) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const shown = el => { for (let p = el; p; p = p.parentElement) { const s = getComputedStyle(p);
    if (s.display === 'none' || s.visibility === 'hidden' || parseFloat(s.opacity) === 0) return false;
    if (s.overflow === 'hidden' && (parseFloat(s.maxHeight) === 0 || parseFloat(s.height) === 0)) return false; }
    const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const text = [...el.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim())
      .map(n => n.textContent.trim()).join(' ');
    if (!text || !shown(el)) continue;
    const style = getComputedStyle(el), fg = parse(style.color), bg = background(el);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const link = el.closest('a');
    out.push({
      text: text.slice(0, 60), color: style.color, background: `rgb(${bg.r}, ${bg.g}, ${bg.b})`,
      ratio: (hi + 0.05) / (lo + 0.05), link: !!link,
      underlined: link ? getComputedStyle(link).textDecorationLine.includes('underline') : false,
      button: link ? (parse(getComputedStyle(link).backgroundColor) || {a: 0}).a > 0 : false,
    });
  }
  return out;
}
"""


def text_contrast(page: Any) -> list[dict[str, Any]]:
    """Every visible text of the page with its contrast ratio and, for links, how they show."""
    return list(page.evaluate(TEXT_CONTRAST_JS))


def left_edges(page: Any) -> dict[str, float]:
    """Left edges (CSS px) of the lead's title, first paragraph, image and button."""
    return dict(page.evaluate("""() => {
      const left = el => el ? el.getBoundingClientRect().left : null;
      const button = [...document.querySelectorAll('a')].find(a => ['Read more', 'Continue reading']
        .includes(a.textContent.trim()));
      return {title: left(document.querySelector('h1')), text: left(document.querySelector('.dg-text p')),
              image: left(document.querySelector('.dg-card img')), button: left(button)};
    }"""))
