import { useState } from 'preact/hooks';

/** A secret shown once (a device token, an API key), with a copy button. */
export function CopySecret(props: { label: string; secret: string; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied(true);
    } catch {
      // Without clipboard access (plain HTTP on another host), select it for Ctrl+C.
      const field = document.getElementById('secret-value') as HTMLInputElement | null;
      field?.select();
    }
  };
  return (
    <div class="dialog" role="dialog" aria-label={props.label}>
      <h3>{props.label}</h3>
      <p>Shown once: the gateway keeps only its hash. Store it now.</p>
      <div class="secret">
        <input id="secret-value" readOnly value={props.secret} data-testid="secret" />
        <button type="button" onClick={copy}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
      <button type="button" class="secondary" onClick={props.onClose}>
        Done
      </button>
    </div>
  );
}

/** Asks before something that cannot be undone. */
export function Confirm(props: {
  text: string;
  action: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <div class="dialog" role="dialog" aria-label="confirm">
      <p>{props.text}</p>
      <div class="row">
        <button type="button" class="danger" onClick={props.onConfirm}>
          {props.action}
        </button>
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
