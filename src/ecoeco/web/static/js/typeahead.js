// An accessible type-ahead over the rules' items (the ARIA combobox pattern with a list box): type, move
// with the arrow keys, Enter or a tap picks, Escape closes. Results come from /recycling/items?q=.

import { errorMessage } from './api.js';
import { itemName, searchItems } from './catalogue.js';
import { h, uid } from './dom.js';
import { t } from './i18n.js';

const DEBOUNCE_MS = 180;

export function itemCombobox({ label, hint, placeholder, onSelect }) {
  const inputId = uid('combo');
  const listId = uid('options');
  const hintId = uid('hint');
  const input = h('input', {
    id: inputId,
    type: 'text',
    role: 'combobox',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder,
    'aria-autocomplete': 'list',
    'aria-expanded': 'false',
    'aria-controls': listId,
    'aria-describedby': hint ? hintId : null,
  });
  const list = h('ul', { id: listId, role: 'listbox', class: 'combo-list', hidden: true, 'aria-label': label });
  const status = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  let options = [];
  let active = -1;
  let selected = null;
  let timer = null;
  let controller = null;

  const setActive = (index) => {
    active = index;
    for (const [i, li] of [...list.children].entries()) li.setAttribute('aria-selected', String(i === index));
    if (index >= 0) {
      input.setAttribute('aria-activedescendant', `${listId}-${index}`);
      list.children[index].scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  };
  const close = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    setActive(-1);
  };
  const pick = (index) => {
    selected = options[index];
    input.value = itemName(selected);
    close();
    onSelect(selected);
  };
  const show = (items) => {
    options = items;
    list.replaceChildren(
      ...items.map((item, i) =>
        h(
          'li',
          {
            id: `${listId}-${i}`,
            role: 'option',
            class: 'combo-option',
            'aria-selected': 'false',
            onmousedown: (e) => e.preventDefault(), // keep focus in the input
            onclick: () => pick(i),
          },
          h('span', { class: 'combo-name' }, itemName(item)),
          item.matched && item.matched !== itemName(item) ? h('span', { class: 'combo-meta' }, item.matched) : null,
        ),
      ),
    );
    list.hidden = items.length === 0;
    input.setAttribute('aria-expanded', String(items.length > 0));
    status.textContent = items.length ? t('typeahead.results', { n: items.length }) : t('typeahead.none');
    setActive(-1);
  };
  const search = async () => {
    const q = input.value.trim();
    controller?.abort();
    if (!q) {
      close();
      return;
    }
    controller = new AbortController();
    try {
      show(await searchItems(q, { signal: controller.signal }));
    } catch (error) {
      if (error.name !== 'AbortError') status.textContent = errorMessage(error);
    }
  };

  input.addEventListener('input', () => {
    if (selected) {
      selected = null;
      onSelect(null);
    }
    clearTimeout(timer);
    timer = setTimeout(search, DEBOUNCE_MS);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      if (list.hidden) return;
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setActive((active + step + options.length) % options.length);
    } else if (event.key === 'Enter' && !list.hidden && active >= 0) {
      event.preventDefault();
      pick(active);
    } else if (event.key === 'Escape' && !list.hidden) {
      event.preventDefault();
      close();
    }
  });
  input.addEventListener('blur', () => setTimeout(close, 150));

  const element = h(
    'div',
    { class: 'field combo' },
    h('label', { for: inputId }, label),
    hint ? h('p', { id: hintId, class: 'hint' }, hint) : null,
    h('div', { class: 'combo-box' }, input, list),
    status,
  );
  return {
    element,
    input,
    get selected() {
      return selected;
    },
  };
}
